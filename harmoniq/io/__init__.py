"""harmoniq.io"""
