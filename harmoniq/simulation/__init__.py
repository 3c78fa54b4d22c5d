"""harmoniq.simulation"""
