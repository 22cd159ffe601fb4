"""MQTT publisher: availability, retained per-rule state and alert events for Home Assistant."""
