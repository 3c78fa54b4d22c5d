"""harmoniq.analysis"""
