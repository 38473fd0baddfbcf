"""Use cases shared by the two doors (``cli.py`` and ``web/``): neither has logic of its own.

* :mod:`market40.services.qr` — encode, decode, draw and read VietQR codes.
"""
