"""OpenAI Chat Completions: `POST /v1/chat/completions` and resuming its streams."""
