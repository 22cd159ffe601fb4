"""Signed webhooks: subscriptions, the Standard Webhooks signature, SSRF guard, dispatcher."""
