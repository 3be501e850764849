"""Helpers shared by every app that own no models."""
