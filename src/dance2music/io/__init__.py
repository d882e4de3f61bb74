"""Reading and writing media: video frames and soundtracks, audio files, atomic outputs."""
