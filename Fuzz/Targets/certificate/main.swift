import FuzzChecks
import FuzzDriver

runFuzzer(.certificate)
