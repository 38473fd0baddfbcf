"""market40: VietQR payloads, bank directory, QR codes and stall registry for Chợ 4.0."""
__version__ = "0.1.0"
