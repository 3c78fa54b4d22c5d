"""harmoniq.recon"""
