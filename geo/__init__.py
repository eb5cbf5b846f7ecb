"""Pure geospatial library for Safer Streets: no Flask, no SQLAlchemy."""

from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
