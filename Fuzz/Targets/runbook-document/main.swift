import FuzzChecks
import FuzzDriver

runFuzzer(.runbookDocument)
