"""The customer side: profiles, consent, devices, privacy rights and support's view."""
