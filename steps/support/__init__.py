"""The harness behind the step definitions: the server under test, devices, the time machine."""
