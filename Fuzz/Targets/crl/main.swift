import FuzzChecks
import FuzzDriver

runFuzzer(.crl)
