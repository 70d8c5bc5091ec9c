# Install PneumoScan from this folder, with no internet: checks every file, makes a
# virtual environment, installs the wheels in wheels\ only, then runs the self-test.
# Usage (PowerShell): powershell -ExecutionPolicy Bypass -File install.ps1 [-Target FOLDER]
param(
    [string]$Target = (Join-Path $env:LOCALAPPDATA "pneumoscan-venv"),
    [string]$Python = "py"
)
$ErrorActionPreference = "Stop"
$here = $PSScriptRoot
$pythonArgs = @()
if ($Python -eq "py") { $pythonArgs = @("-@PYTHON_VERSION@") }

$version = & $Python @pythonArgs -c "import sys; print('%d.%d' % sys.version_info[:2])"
if ($LASTEXITCODE -ne 0 -or $version -ne "@PYTHON_VERSION@") {
    Write-Error "This bundle is for Python @PYTHON_VERSION@ (found: $version). Install Python @PYTHON_VERSION@ from python.org first."
}

Write-Host "Checking the files of the bundle ..."
foreach ($line in Get-Content (Join-Path $here "SHA256SUMS")) {
    $hash, $name = $line -split "\s+", 2
    $name = $name.TrimStart("*")
    $actual = (Get-FileHash -Algorithm SHA256 (Join-Path $here $name)).Hash.ToLower()
    if ($actual -ne $hash) { Write-Error "$name is damaged (checksum does not match). Copy the bundle again." }
}

Write-Host "Creating $Target ..."
& $Python @pythonArgs -m venv $Target
if ($LASTEXITCODE -ne 0) { Write-Error "Could not create $Target" }
& (Join-Path $Target "Scripts\python.exe") -m pip install --quiet --no-index --find-links (Join-Path $here "wheels") '@REQUIREMENT@'
if ($LASTEXITCODE -ne 0) { Write-Error "pip could not install PneumoScan from the bundle" }

Write-Host "Running the self-test ..."
& (Join-Path $Target "Scripts\edge-scan.exe") selftest
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host ""
Write-Host "PneumoScan is installed. To scan: $Target\Scripts\edge-scan.exe scan --samples"
