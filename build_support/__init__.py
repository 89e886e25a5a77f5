"""Build-time helpers of setup.py; nothing here is imported by the router at run time."""
