"""The tools a run can call: MCP servers, and string-mode tool calling for models without native tools."""
