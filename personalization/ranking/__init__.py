"""The ranking math: pure Python + numpy. No Django import here (a test enforces it)."""
