/**
 * Voxie's in-browser call, wrapped by voxie_app/components/livekit_call.py.
 *
 *   <VoxieCall serverUrl token agentName compact endLabel
 *              onConnected() onDisconnected(reason) onError(kind, detail)
 *              onMediaDeviceFailure(failure, detail) />
 *
 * Joins the LiveKit room with the microphone on, plays the agent's audio, and
 * shows the agent's state (its `lk.agent.state` attribute, through
 * useVoiceAssistant) with a bar visualiser, a live transcript of both sides
 * (the `lk.transcription` text streams, through useTranscriptions), mute, a
 * timer and an end button.
 *
 * Each call reports exactly one ending, once:
 *   onDisconnected(reason)  the call was connected and ended, or the caller
 *                           ended it (reason "CLIENT_INITIATED");
 *   onError(kind, detail)   it never got going ("connection"), or something
 *                           else failed ("other");
 *   onMediaDeviceFailure(failure, detail)  the microphone failed
 *                           ("PermissionDenied", "NotFound", "DeviceInUse", "Other").
 * Only the participant token and the server URL reach this file.
 */
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  BarVisualizer,
  LiveKitRoom,
  RoomAudioRenderer,
  useAudioPlayback,
  useConnectionState,
  useLocalParticipant,
  useRoomContext,
  useTranscriptions,
  useVoiceAssistant,
} from "@livekit/components-react";
import {
  ConnectionError,
  ConnectionErrorReason,
  ConnectionState,
  DisconnectReason,
  MediaDeviceFailure,
  Track,
} from "livekit-client";
import { Badge, Box, Button, Flex, Grid, Heading, Text } from "@radix-ui/themes";
import { Mic, MicOff, PhoneOff, Volume2 } from "lucide-react";

const STYLE = `
.voxie-call-bars { display: flex; align-items: center; justify-content: center;
  gap: 0.55rem; height: 9rem; width: 100%; }
.voxie-call-bars.voxie-compact { height: 4.5rem; gap: 0.4rem; }
.voxie-call-bars > .lk-audio-bar { width: 0.85rem; border-radius: 999px;
  background-color: var(--gray-a5); transition: background-color 0.25s ease, height 0.08s linear; }
.voxie-call-bars.voxie-compact > .lk-audio-bar { width: 0.6rem; }
.voxie-call-bars > .lk-audio-bar[data-lk-highlighted="true"] { background-color: var(--accent-9); }
.voxie-mic-bars { display: flex; align-items: center; gap: 2px; height: 1.1rem; width: 1.6rem; }
.voxie-mic-bars > .lk-audio-bar { width: 3px; border-radius: 2px; background-color: var(--grass-9); }
.voxie-call-line { animation: voxie-call-in 0.18s ease-out; }
@keyframes voxie-call-in { from { opacity: 0; transform: translateY(4px); } to { opacity: 1; transform: none; } }
.voxie-call-dot { width: 0.5rem; height: 0.5rem; border-radius: 50%; background-color: currentColor; }
.voxie-call-dot.voxie-live { animation: voxie-call-blink 1.6s ease-in-out infinite; }
@keyframes voxie-call-blink { 50% { opacity: 0.35; } }
`;

const CARD = {
  padding: "1.25rem",
  width: "100%",
  minWidth: 0,
  borderRadius: "var(--radius-4)",
  border: "1px solid var(--gray-4)",
  backgroundColor: "var(--gray-1)",
  boxShadow: "0 1px 2px rgba(0,0,0,0.04)",
};
// Inside another card (the builder's section): a lighter panel.
const PANEL = {
  padding: "0.9rem",
  width: "100%",
  minWidth: 0,
  borderRadius: "var(--radius-3)",
  border: "1px solid var(--gray-4)",
  backgroundColor: "var(--gray-2)",
};

// What the agent is doing, as `useVoiceAssistant().state` names it.
const AGENT_STATES = {
  initializing: ["Agent is getting ready…", "gray", "It will greet you in a moment."],
  idle: ["Ready", "gray", "Go ahead and speak."],
  listening: ["Listening", "grass", "Go ahead and speak."],
  thinking: ["Thinking…", "amber", "Working out an answer."],
  speaking: ["Speaking", "violet", "You can interrupt at any time."],
  failed: ["The agent stopped", "red", "End the call and try again."],
};

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

// What getUserMedia throws when the microphone cannot be had.
const MIC_ERRORS = new Set([
  "NotAllowedError",
  "PermissionDeniedError",
  "NotFoundError",
  "DevicesNotFoundError",
  "NotReadableError",
  "TrackStartError",
  "OverconstrainedError",
  "AbortError",
]);

/** (failure, detail) for a microphone error, or null when it is not one. */
function micFailure(error) {
  if (error instanceof ConnectionError || !MIC_ERRORS.has(error?.name)) return null;
  return [String(MediaDeviceFailure.getFailure(error) ?? MediaDeviceFailure.Other), error.message || ""];
}

/** (kind, detail) for an error from connecting or publishing the microphone. */
function describe(error) {
  if (error instanceof ConnectionError || error?.name === "ConnectionError") {
    const reason = error.reasonName ?? ConnectionErrorReason[error.reason] ?? "";
    return ["connection", `${error.message}${reason ? ` (${reason})` : ""}`];
  }
  return ["other", error?.message || String(error)];
}

function useElapsed(running) {
  const [seconds, setSeconds] = useState(0);
  const startedAt = useRef(null);
  useEffect(() => {
    if (!running) return undefined;
    if (startedAt.current === null) startedAt.current = Date.now();
    const tick = () => setSeconds(Math.floor((Date.now() - startedAt.current) / 1000));
    tick();
    const timer = setInterval(tick, 1000);
    return () => clearInterval(timer);
  }, [running]);
  return seconds;
}

function StatusBadge({ label, color, live }) {
  return (
    <Badge color={color} variant="soft" radius="full" size="2" data-testid="call-status">
      <span className={`voxie-call-dot${live ? " voxie-live" : ""}`} />
      {label}
    </Badge>
  );
}

function Transcript({ agentName, compact }) {
  const room = useRoomContext();
  const transcriptions = useTranscriptions();
  const end = useRef(null);
  const me = room.localParticipant.identity;
  const lines = transcriptions
    .filter((t) => (t.text || "").trim() !== "")
    .map((t) => ({
      id: t.streamInfo.id,
      mine: t.participantInfo.identity === me,
      text: t.text,
    }));
  useEffect(() => {
    const box = end.current?.parentElement;
    if (box) box.scrollTop = box.scrollHeight;
  }, [lines.length, lines[lines.length - 1]?.text]);
  return (
    <Flex direction="column" gap="3" style={{ ...(compact ? PANEL : CARD), minHeight: 0 }}>
      <Flex align="center" justify="between">
        <Heading size="4" weight="bold">
          Live transcript
        </Heading>
        <Badge variant="soft" color="gray" radius="full">
          {lines.length} {lines.length === 1 ? "line" : "lines"}
        </Badge>
      </Flex>
      <Flex
        direction="column"
        gap="3"
        data-testid="call-transcript"
        style={{
          overflowY: "auto",
          height: compact ? "13rem" : "min(24rem, 55vh)",
          paddingRight: "0.25rem",
        }}
      >
        {lines.length === 0 ? (
          <Flex align="center" justify="center" style={{ flex: 1 }}>
            <Text size="2" color="gray" align="center" style={{ maxWidth: "18rem" }}>
              What you and {agentName || "the agent"} say appears here as you speak.
            </Text>
          </Flex>
        ) : (
          lines.map((line) => (
            <Flex key={line.id} justify={line.mine ? "end" : "start"} className="voxie-call-line">
              <Box
                data-testid={line.mine ? "call-line-user" : "call-line-agent"}
                style={{
                  maxWidth: "85%",
                  padding: "0.5rem 0.8rem",
                  borderRadius: "1rem",
                  backgroundColor: line.mine ? "var(--accent-9)" : "var(--gray-3)",
                  color: line.mine ? "white" : "var(--gray-12)",
                }}
              >
                {!line.mine && (
                  <Text as="div" size="1" weight="bold" style={{ color: "var(--accent-11)" }}>
                    {agentName || "Agent"}
                  </Text>
                )}
                <Text as="div" size="2" style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>
                  {line.text}
                </Text>
              </Box>
            </Flex>
          ))
        )}
        <div ref={end} />
      </Flex>
    </Flex>
  );
}

function Stage({ agentName, compact, endLabel, onEnd }) {
  const connection = useConnectionState();
  const { state: agentState, audioTrack } = useVoiceAssistant();
  const { localParticipant, microphoneTrack, isMicrophoneEnabled } = useLocalParticipant();
  const [ending, setEnding] = useState(false);
  const connected = connection === ConnectionState.Connected;
  const elapsed = useElapsed(connected);
  const micLive = connected && Boolean(microphoneTrack);
  // Browsers may block sound until the page is clicked: offer the click.
  const { canPlayAudio, startAudio } = useAudioPlayback();
  const muted = micLive && !isMicrophoneEnabled;

  let label;
  let color;
  let hint;
  if (connection === ConnectionState.Reconnecting || connection === ConnectionState.SignalReconnecting) {
    [label, color, hint] = ["Reconnecting…", "amber", "The connection dropped; trying again."];
  } else if (!connected) {
    [label, color, hint] = ["Connecting…", "gray", "Joining the call room."];
  } else if (agentState === "connecting" || agentState === "pre-connect-buffering") {
    [label, color, hint] = [`Waiting for ${agentName || "the agent"}…`, "gray", "It joins in a moment."];
  } else {
    [label, color, hint] = AGENT_STATES[agentState] ?? [agentState, "gray", ""];
  }

  const micRef = useMemo(
    () =>
      microphoneTrack
        ? { participant: localParticipant, publication: microphoneTrack, source: Track.Source.Microphone }
        : undefined,
    [localParticipant, microphoneTrack],
  );

  const toggleMute = useCallback(() => {
    localParticipant.setMicrophoneEnabled(!isMicrophoneEnabled).catch(() => {});
  }, [localParticipant, isMicrophoneEnabled]);

  const end = useCallback(() => {
    setEnding(true);
    onEnd();
  }, [onEnd]);

  return (
    <Flex
      direction="column"
      justify="between"
      gap={compact ? "3" : "4"}
      style={compact ? PANEL : CARD}
      data-testid="call-stage"
    >
      <Flex align="center" justify="between" gap="3">
        <StatusBadge label={label} color={color} live={connected} />
        <Text
          size="3"
          weight="medium"
          data-testid="call-timer"
          style={{ fontVariantNumeric: "tabular-nums", color: connected ? "var(--gray-12)" : "var(--gray-9)" }}
        >
          {clock(elapsed)}
        </Text>
      </Flex>
      <Flex direction="column" align="center" justify="center" gap="3" style={{ flex: 1 }}>
        <BarVisualizer
          state={connected ? agentState : "connecting"}
          track={audioTrack}
          barCount={compact ? 9 : 11}
          options={{ minHeight: 12, maxHeight: 100 }}
          className={`voxie-call-bars${compact ? " voxie-compact" : ""}`}
          data-testid="call-visualizer"
        />
        <Flex direction="column" align="center" gap="1">
          {!compact && (
            <Heading size="5" weight="bold" align="center">
              {agentName}
            </Heading>
          )}
          <Text size="2" color="gray" align="center" data-testid="call-hint">
            {hint}
          </Text>
        </Flex>
      </Flex>
      {connected && !canPlayAudio && (
        <Flex justify="center">
          <Button size="2" variant="soft" onClick={startAudio} data-testid="call-start-audio">
            <Volume2 size={16} />
            Turn on the agent's voice
          </Button>
        </Flex>
      )}
      <Flex align="center" justify="center" gap="3" wrap="wrap">
        <Button
          size={compact ? "2" : "3"}
          variant="soft"
          color={muted ? "red" : "gray"}
          onClick={toggleMute}
          disabled={!micLive}
          aria-pressed={muted}
          data-testid="call-mute"
        >
          {muted ? <MicOff size={16} /> : <Mic size={16} />}
          {muted ? "Unmute" : "Mute"}
          {micLive && !muted && micRef && (
            <BarVisualizer track={micRef} barCount={4} options={{ minHeight: 15 }} className="voxie-mic-bars" />
          )}
        </Button>
        <Button
          size={compact ? "2" : "3"}
          color="red"
          onClick={end}
          loading={ending}
          data-testid="call-end"
        >
          <PhoneOff size={16} />
          {endLabel || "End call"}
        </Button>
      </Flex>
    </Flex>
  );
}

function Inside({ agentName, compact, endLabel, onEnd }) {
  const room = useRoomContext();
  const end = useCallback(() => onEnd(room), [onEnd, room]);
  return (
    <Grid columns={compact ? "1" : { initial: "1", md: "5fr 4fr" }} gap="4" width="100%">
      <Stage agentName={agentName} compact={compact} endLabel={endLabel} onEnd={end} />
      <Transcript agentName={agentName} compact={compact} />
    </Grid>
  );
}

export function VoxieCall({
  serverUrl,
  token,
  agentName,
  compact,
  endLabel,
  onConnected,
  onDisconnected,
  onError,
  onMediaDeviceFailure,
  ...rest
}) {
  // Reflex passes new callback functions on every render; LiveKitRoom reconnects
  // when its callbacks change, so it gets stable ones that read the latest props.
  const props = useRef({});
  props.current = { onConnected, onDisconnected, onError, onMediaDeviceFailure };
  const done = useRef(false); // the ending was reported
  const connected = useRef(false);
  const ending = useRef(false); // the caller pressed End

  const finish = useCallback((name, ...args) => {
    if (done.current) return;
    done.current = true;
    props.current[name]?.(...args);
  }, []);

  const handleConnected = useCallback(() => {
    connected.current = true;
    if (!done.current) props.current.onConnected?.();
  }, []);

  const handleDisconnected = useCallback(
    (reason) => {
      // Before the call was up, a disconnect is a failed connect: onError says why.
      if (!connected.current && !ending.current) return;
      finish("onDisconnected", ending.current ? "CLIENT_INITIATED" : DisconnectReason[reason] ?? "UNKNOWN_REASON");
    },
    [finish],
  );

  const handleError = useCallback(
    (error) => {
      if (ending.current) return;
      const mic = micFailure(error);
      if (mic) finish("onMediaDeviceFailure", ...mic);
      else finish("onError", ...describe(error));
    },
    [finish],
  );

  const handleDeviceFailure = useCallback(
    (failure, kind) => {
      if (ending.current || (kind && kind !== "audioinput")) return;
      finish("onMediaDeviceFailure", String(failure ?? MediaDeviceFailure.Other), "");
    },
    [finish],
  );

  const handleEnd = useCallback(
    async (room) => {
      ending.current = true;
      try {
        await room.disconnect();
      } finally {
        finish("onDisconnected", "CLIENT_INITIATED");
      }
    },
    [finish],
  );

  // Left the page while the call was up: that ends it too.
  useEffect(
    () => () => {
      if (connected.current) finish("onDisconnected", "PARTICIPANT_LEFT_PAGE");
    },
    [finish],
  );

  const options = useMemo(() => ({ adaptiveStream: false, dynacast: false }), []);

  return (
    <LiveKitRoom
      serverUrl={serverUrl || undefined}
      token={token || undefined}
      connect={Boolean(serverUrl && token)}
      audio={true}
      video={false}
      options={options}
      onConnected={handleConnected}
      onDisconnected={handleDisconnected}
      onError={handleError}
      onMediaDeviceFailure={handleDeviceFailure}
      style={{ width: "100%" }}
      {...rest}
    >
      <style>{STYLE}</style>
      <RoomAudioRenderer />
      <Inside agentName={agentName} compact={compact} endLabel={endLabel} onEnd={handleEnd} />
    </LiveKitRoom>
  );
}

export default VoxieCall;
