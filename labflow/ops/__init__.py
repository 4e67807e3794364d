"""Operations: what an operator watches (metrics of the whole flow)."""
