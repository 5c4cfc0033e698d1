"""Companies, dated exposure facts, classification, the Chinese-exposure score and screens."""
