// Like the agent it tests: POSIX signals, process groups, /proc.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
