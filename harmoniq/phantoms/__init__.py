"""harmoniq.phantoms"""
