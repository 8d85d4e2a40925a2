"""The in-browser LiveKit call: `assets/livekit_call.jsx` wrapped as a Reflex component.

The JSX builds on `@livekit/components-react` (LiveKitRoom, RoomAudioRenderer,
BarVisualizer, useVoiceAssistant, useTranscriptions). It gets only the server
URL and the participant token, and reports back through event triggers:

- `on_connected()`: the room is connected;
- `on_disconnected(reason)`: a connected call ended, or the caller pressed End
  (`"CLIENT_INITIATED"`); LiveKit's `DisconnectReason` name otherwise;
- `on_error(kind, detail)`: the call never got going (`kind == "connection"`,
  with LiveKit's message and reason) or something else failed (`"other"`);
- `on_media_device_failure(failure, detail)`: the microphone failed
  (`PermissionDenied`, `NotFound`, `DeviceInUse` or `Other`).

Each call reports one ending, once. Render it with `key=<call id>` so a new call
starts from a fresh component.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventHandler, no_args_event_spec, passthrough_event_spec

# Pinned: the JSX uses hooks marked beta in these packages.
COMPONENTS_REACT = "@livekit/components-react@2.9.24"
LIVEKIT_CLIENT = "livekit-client@2.23.0"

# The microphone check run in the page before a call is started (the browser
# asks for permission here, before a room exists): "ok" or the error's name.
MIC_CHECK_JS = """(async () => {
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return "InsecureContext";
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    stream.getTracks().forEach((track) => track.stop());
    return "ok";
  } catch (error) {
    return (error && error.name) || "Error";
  }
})()"""


class LiveKitCall(rx.NoSSRComponent):
    """`VoxieCall` from `assets/livekit_call.jsx` (copied to the frontend's `public/`)."""

    library = "$/public/livekit_call.jsx"
    tag = "VoxieCall"
    lib_dependencies: list[str] = [
        COMPONENTS_REACT,
        LIVEKIT_CLIENT,
        "@radix-ui/themes",
        "lucide-react",
    ]

    server_url: rx.Var[str]
    token: rx.Var[str]
    agent_name: rx.Var[str]
    compact: rx.Var[bool]
    end_label: rx.Var[str]

    on_connected: EventHandler[no_args_event_spec]
    on_disconnected: EventHandler[passthrough_event_spec(str)]
    on_error: EventHandler[passthrough_event_spec(str, str)]
    on_media_device_failure: EventHandler[passthrough_event_spec(str, str)]


livekit_call = LiveKitCall.create
