"""The Qt layer: tray, window, cards, notifier, theme."""
