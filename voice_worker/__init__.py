"""The LiveKit Agents worker: agents from stored specs, recording, post-call analysis."""
