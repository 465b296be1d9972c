"""Install tests: genzoo and its plugin distributions built as wheels and installed, not
editable, into a fresh environment as a user installs them (see ``test_install.py``)."""
