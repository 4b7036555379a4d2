"""PAIS's own HTTP endpoints: approvals, memory inspection, discovery and probes."""
