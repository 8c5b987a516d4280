"""The Textual dashboard: the only part of natsops that imports Textual."""
