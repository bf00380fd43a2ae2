"""Ask panel and Compare models view (video LLMs)."""
