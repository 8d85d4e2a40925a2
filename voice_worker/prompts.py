"""Prompt text the runtime adds around a stored spec. Prompts are data."""

VOICE_STYLE = """\
You are speaking on a live phone call. Keep answers short and natural, one idea
at a time, no lists, no markdown, no emojis. Ask one question at a time."""

TOOLS_GUIDE = {
    "end_call": "When the caller is done or says goodbye, call end_call.",
    "record_caller_details": (
        "When the caller gives their name, phone number, email or a detail worth "
        "keeping, call record_caller_details."
    ),
    "transfer_to_agent": (
        "When the caller needs one of the colleagues listed below, call "
        "transfer_to_agent with that colleague's id. Never invent ids."
    ),
}

HANDOFF_INTRO = (
    "You have just been handed this call by a colleague; the conversation so far "
    "is above. Greet the caller briefly as {name} and continue helping them."
)

GOODBYE = "Say a short, friendly goodbye to the caller now; the call ends after it."
