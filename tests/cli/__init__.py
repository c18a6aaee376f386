"""Tests of the kn-style CLI (`kwake service|revision|route|apply|logs|request`)."""
