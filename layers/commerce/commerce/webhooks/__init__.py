"""Webhooks from carriers and payment providers: signatures checked before anything is believed."""
