"""The use-case path every request takes (authenticate → admit → reserve → route/failover → relay → settle → ledger),
and one operation per capability (chat, completions, embeddings, images)."""
