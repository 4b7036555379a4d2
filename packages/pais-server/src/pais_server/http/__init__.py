"""HTTP plumbing shared by every endpoint: error shapes, the body parser, connection timeouts."""
