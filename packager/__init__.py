"""eco-pack's build side: forget-set sources, classifier training, sigma tuning, the build pipeline and the CLI."""
