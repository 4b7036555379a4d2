"""The model an agent talks to: built from the environment, or scripted for tests."""
