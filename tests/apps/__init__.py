"""Tiny target apps with a server-side idle timeout, used by the tests of the drop-in test clocks."""
