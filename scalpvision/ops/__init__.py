"""Operations: tracking, the model registry and its kinds, promotion, packaging, reports."""
