"""Readers of the on-disk formats of the named data sets, in torchvision's layout.

Each module reads one format the way torchvision's dataset class does, but validates the
files instead of comparing their MD5 hashes, so every error names the bad file, and a folder
prepared by hand (or by a test) is read as well as a downloaded one.
"""
