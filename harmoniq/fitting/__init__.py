"""harmoniq.fitting"""
