"""Voxie: build, call and analyse voice agents (web app and shared layers)."""
