"""Who is calling: webhooks, OAuth tokens, browser sessions; and what they may call (scopes)."""
