"""Consortium strategies: arbiter, moa (mixture-of-agents), council."""
