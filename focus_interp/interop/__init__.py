"""Other libraries' views of a loaded model: TransformerLens's TransformerBridge, with our interventions as its
forward hooks and the contextual span mass read from its attention patterns."""
