"""Deployment: self-describing exports (ONNX, TorchScript, JSON metadata), a safe control loop, backends."""
