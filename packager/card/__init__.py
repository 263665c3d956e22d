"""The unlearning model card (Hugging Face format) and its plots."""
