"""Running the gateway's books: key settings and shapes, usage reports, the CLI and the dashboard assets."""
