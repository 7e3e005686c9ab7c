; Inno Setup 6 script: the Windows installer of Stethoscope Desktop, carrying IT's practices.
;
; Built by packaging/windows/build-installer.sh, which checks IT's files and runs
;   iscc /DAppVersion=0.1.0 /DAppDir=dist\stethoscope-desktop /DITDir=it /DOutputDir=dist ^
;        packaging\windows\stethoscope-desktop.iss
; AppDir is the frozen app (packaging/build-frozen.sh); ITDir (optional) holds IT's files, already
; checked: policy.yaml, config.yaml, instructions.<lang>.yaml, checks.d\*.yaml.
;
; What it installs (per machine, needs administrator rights):
; - the app in C:\Program Files\Stethoscope: stethoscope-desktop.exe (the tray app) and
;   stethoscope-desktop-cli.exe (the same program for a terminal);
; - IT's files in C:\ProgramData\stethoscope, readable by all users and writable only by
;   administrators and SYSTEM (the folder does not inherit ProgramData's "users may add files").
;   IT's folder is replaced as a whole: files a previous installer put there and this one does
;   not ship are removed. A folder named on the command line replaces the built-in files, for silent
;   installs that take IT's files from elsewhere (a share, an Intune package's own folder):
;     Stethoscope-Setup-0.1.0.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /POLICYDIR="C:\it"
;   It is checked with `stethoscope-desktop-cli check-policy` first; with problems, the files
;   already there stay and the problems go to the setup log (/LOG="C:\Windows\Temp\steth.log").
; - start at login, per user: the "Stethoscope" value of HKCU\...\CurrentVersion\Run (the one
;   the app's "Start at login" switch writes and deletes), written for the user who installs and,
;   through Active Setup, once for every other user at their next login. A user's later choice
;   stays: Active Setup does not run again for them on upgrades.
; - the osquery extension, stethoscope_desktop.ext.exe in the app's folder (the frozen app's third
;   program: `osquery-extension` with osqueryd's flags), owned by Administrators as osqueryd
;   requires. Built with OsqueryAutoload (build-installer.sh --osquery-extension), or given
;   /OSQUERYAUTOLOAD="C:\Program Files\osquery\extensions.load" on the command line, the setup
;   program adds it to that osquery autoload file once, keeping IT's other lines (the file keeps
;   its permissions; it and its folder are made if missing); /OSQUERYAUTOLOAD= (empty) leaves it
;   out. A line an earlier installation added elsewhere is taken out; the file used is kept in
;   HKLM\Software\Stethoscope, OsqueryAutoload. Where the file changed, a running osqueryd service
;   (osquery's "osqueryd" or fleetd's "Fleet osquery") is restarted to read it.
; Uninstalling removes the app, IT's folder, the installing user's Run value and the osquery
; extension's line (restarting a running osqueryd as above).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef AppDir
  #define AppDir "..\..\dist\stethoscope-desktop"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef Publisher
  #define Publisher "IT"
#endif
; The app's id; in [Setup] and [Registry] a "{" is written "{{" (a single one starts a constant).
#define AppGuid "6C7B1E52-3F0A-4C8B-9E5D-2A4F7B1C9D36"
#define ActiveSetupKey "Software\Microsoft\Active Setup\Installed Components\{{" + AppGuid + "}"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define ITFolder "{commonappdata}\stethoscope"
#define ExtensionProgram "stethoscope_desktop.ext.exe"
#ifndef OsqueryAutoload
  #define OsqueryAutoload ""
#endif

[Setup]
AppId={{{#AppGuid}}
AppName=Stethoscope
AppVersion={#AppVersion}
AppVerName=Stethoscope {#AppVersion}
AppPublisher={#Publisher}
DefaultDirName={autopf}\Stethoscope
DisableDirPage=yes
DisableProgramGroupPage=yes
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=Stethoscope-Setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
UninstallDisplayName=Stethoscope
UninstallDisplayIcon={app}\stethoscope-desktop.exe
; A running app is closed (Restart Manager) before its files are replaced.
CloseApplications=yes
RestartApplications=no
SetupLogging=yes

[Files]
Source: "{#AppDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
#ifdef ITDir
Source: "{#ITDir}\*"; DestDir: "{#ITFolder}"; Flags: ignoreversion recursesubdirs createallsubdirs; Check: not HasPolicyDir
#endif

[Dirs]
Name: "{#ITFolder}"

[InstallDelete]
; IT's folder holds exactly what this installer ships (the files of an earlier one go first).
Type: files; Name: "{#ITFolder}\policy.yaml"; Check: not HasPolicyDir
Type: files; Name: "{#ITFolder}\config.yaml"; Check: not HasPolicyDir
Type: files; Name: "{#ITFolder}\instructions.*.yaml"; Check: not HasPolicyDir
Type: files; Name: "{#ITFolder}\checks.d\*.yaml"; Check: not HasPolicyDir
Type: files; Name: "{#ITFolder}\checks.d\*.yml"; Check: not HasPolicyDir

[Registry]
; Start at login for the user who installs (not when Intune or SCCM installs as SYSTEM)...
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "Stethoscope"; ValueData: """{app}\stethoscope-desktop.exe"""; Flags: uninsdeletevalue; Check: not IsRunningAsSystem and not IsUpgrade
Root: HKCU; Subkey: "{#ActiveSetupKey}"; ValueType: string; ValueName: "Version"; ValueData: "1"; Check: not IsRunningAsSystem
; ...and once for every other user, at their next login (Active Setup runs StubPath for each
; user whose own Version of this key is missing or lower).
Root: HKLM; Subkey: "{#ActiveSetupKey}"; ValueType: string; ValueName: ""; ValueData: "Stethoscope"; Flags: uninsdeletekey
Root: HKLM; Subkey: "{#ActiveSetupKey}"; ValueType: string; ValueName: "Version"; ValueData: "1"
Root: HKLM; Subkey: "{#ActiveSetupKey}"; ValueType: dword; ValueName: "IsInstalled"; ValueData: 1
Root: HKLM; Subkey: "{#ActiveSetupKey}"; ValueType: string; ValueName: "StubPath"; ValueData: "reg.exe add ""HKCU\{#RunKey}"" /v Stethoscope /t REG_SZ /d ""\""{app}\stethoscope-desktop.exe\"""" /f"

[Run]
; IT's folder: administrators and SYSTEM may change it, users may only read it. (ProgramData lets
; every user add files by default, and a policy.yaml a user added would pass for IT's.)
Filename: "{sys}\icacls.exe"; Parameters: """{#ITFolder}"" /inheritance:r /grant:r *S-1-5-32-544:(OI)(CI)F *S-1-5-18:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX"; Flags: runhidden waituntilterminated; StatusMsg: "Protecting IT's folder..."
; The osquery extension: osqueryd starts only a program owned by Administrators or SYSTEM (whose
; folder low-privileged users cannot write to, as Program Files is).
Filename: "{sys}\icacls.exe"; Parameters: """{app}\{#ExtensionProgram}"" /setowner *S-1-5-32-544"; Flags: runhidden waituntilterminated; Check: FileExists(ExpandConstant('{app}\{#ExtensionProgram}'))
Filename: "{app}\stethoscope-desktop.exe"; Description: "Start Stethoscope now"; Flags: nowait postinstall skipifsilent runasoriginaluser

[UninstallRun]
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM stethoscope-desktop.exe"; Flags: runhidden; RunOnceId: "StopStethoscope"
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM {#ExtensionProgram}"; Flags: runhidden; RunOnceId: "StopOsqueryExtension"

[UninstallDelete]
Type: filesandordirs; Name: "{#ITFolder}"

[Code]
var
  WasInstalled: Boolean;

function PolicyDir: String;
begin
  Result := ExpandConstant('{param:POLICYDIR|}');
end;

function HasPolicyDir: Boolean;
begin
  Result := PolicyDir <> '';
end;

function IsRunningAsSystem: Boolean;
begin
  Result := CompareText(GetUserNameString, 'SYSTEM') = 0;
end;

function IsUpgrade: Boolean;
begin
  Result := WasInstalled;
end;

function InitializeSetup: Boolean;
begin
  WasInstalled := RegKeyExists(HKLM,
    'Software\Microsoft\Windows\CurrentVersion\Uninstall\{' + '{#AppGuid}' + '}_is1');
  Result := True;
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
begin
  Result := '';
  if HasPolicyDir and not FileExists(AddBackslash(PolicyDir) + 'policy.yaml')
     and not FileExists(AddBackslash(PolicyDir) + 'config.yaml') then
    Result := 'POLICYDIR ' + PolicyDir + ' has no policy.yaml or config.yaml';
end;

{ Copy the files of Source that match Pattern into Target; return how many. }
function CopyMatching(const Source, Pattern, Target: String): Integer;
var
  Found: TFindRec;
begin
  Result := 0;
  if FindFirst(AddBackslash(Source) + Pattern, Found) then
  try
    repeat
      if Found.Attributes and FILE_ATTRIBUTE_DIRECTORY = 0 then
      begin
        ForceDirectories(Target);
        if FileCopy(AddBackslash(Source) + Found.Name, AddBackslash(Target) + Found.Name, False) then
          Result := Result + 1
        else
          Log('could not copy ' + AddBackslash(Source) + Found.Name);
      end;
    until not FindNext(Found);
  finally
    FindClose(Found);
  end;
end;

function CopyITFiles(const Source, Target: String): Integer;
begin
  Result := CopyMatching(Source, 'policy.yaml', Target)
    + CopyMatching(Source, 'config.yaml', Target)
    + CopyMatching(Source, 'instructions.*.yaml', Target)
    + CopyMatching(AddBackslash(Source) + 'checks.d', '*.yaml', AddBackslash(Target) + 'checks.d')
    + CopyMatching(AddBackslash(Source) + 'checks.d', '*.yml', AddBackslash(Target) + 'checks.d');
end;

procedure DeleteITFiles(const Target: String);
begin
  DelTree(AddBackslash(Target) + 'policy.yaml', False, True, False);
  DelTree(AddBackslash(Target) + 'config.yaml', False, True, False);
  DelTree(AddBackslash(Target) + 'instructions.*.yaml', False, True, False);
  DelTree(AddBackslash(Target) + 'checks.d\*.yaml', False, True, False);
  DelTree(AddBackslash(Target) + 'checks.d\*.yml', False, True, False);
end;

{ With /POLICYDIR: check the folder's files with the app, then make them IT's folder. }
procedure InstallPolicyDir;
var
  Staging, Output: String;
  Lines: TArrayOfString;
  I, ResultCode: Integer;
begin
  Staging := ExpandConstant('{tmp}\it');
  Output := ExpandConstant('{tmp}\check-policy.txt');
  if CopyITFiles(PolicyDir, Staging) = 0 then
  begin
    Log('POLICYDIR ' + PolicyDir + ' has none of IT''s files');
    Exit;
  end;
  Exec(ExpandConstant('{cmd}'), '/C ""' + ExpandConstant('{app}\stethoscope-desktop-cli.exe') +
    '" check-policy "' + Staging + '" > "' + Output + '" 2>&1"', '', SW_HIDE,
    ewWaitUntilTerminated, ResultCode);
  if LoadStringsFromFile(Output, Lines) then
    for I := 0 to GetArrayLength(Lines) - 1 do
      Log('check-policy: ' + Lines[I]);
  if ResultCode <> 0 then
  begin
    SuppressibleMsgBox('IT''s files in ' + PolicyDir + ' have problems; the files already in ' +
      ExpandConstant('{#ITFolder}') + ' stay. See the setup log.', mbError, MB_OK, IDOK);
    Exit;
  end;
  DeleteITFiles(ExpandConstant('{#ITFolder}'));
  CopyITFiles(Staging, ExpandConstant('{#ITFolder}'));
  Log('installed IT''s files from ' + PolicyDir);
end;

{ The osquery extension in osquery's autoload file. osqueryd reads the file when it starts: one
  program per line, trimmed (and on Windows, paths compare without regard to case). }
const
  AutoloadStateKey = 'Software\Stethoscope';
  AutoloadStateValue = 'OsqueryAutoload';

function AutoloadLine: String;
begin
  Result := ExpandConstant('{app}\{#ExtensionProgram}');
end;

{ The autoload file to add the extension to: /OSQUERYAUTOLOAD=, else the one built in; '' for none. }
function OsqueryAutoloadFile: String;
begin
  Result := ExpandConstant('{param:OSQUERYAUTOLOAD|*}');
  if Result = '*' then
    Result := ExpandConstant('{#OsqueryAutoload}');
  Result := Trim(Result);
end;

function IsAutoloadLine(const Text: String): Boolean;
begin
  Result := CompareText(Trim(Text), AutoloadLine) = 0;
end;

{ Add the extension's line to FileName once; return True if the file changed. }
function AddToAutoload(const FileName: String): Boolean;
var
  Lines: TArrayOfString;
  I, Count: Integer;
begin
  Result := False;
  if FileExists(FileName) then
  begin
    if not LoadStringsFromFile(FileName, Lines) then
    begin
      Log('could not read ' + FileName + '; the osquery extension is not added');
      Exit;
    end;
    for I := 0 to GetArrayLength(Lines) - 1 do
      if IsAutoloadLine(Lines[I]) then
        Exit;
  end
  else if not ForceDirectories(ExtractFileDir(FileName)) then
  begin
    Log('could not make ' + ExtractFileDir(FileName));
    Exit;
  end;
  Count := GetArrayLength(Lines);
  SetArrayLength(Lines, Count + 1);
  Lines[Count] := AutoloadLine;
  { Without a byte order mark, which osqueryd would take for part of the first path. }
  Result := SaveStringsToUTF8FileWithoutBOM(FileName, Lines, False);
  if Result then
    Log('osquery extension added to ' + FileName)
  else
    Log('could not write ' + FileName);
end;

{ Take the extension's line out of FileName, and the file if nothing else is left in it; return
  True if the file changed. }
function RemoveFromAutoload(const FileName: String): Boolean;
var
  Lines, Kept: TArrayOfString;
  I, Count: Integer;
  Empty: Boolean;
begin
  Result := False;
  if not FileExists(FileName) or not LoadStringsFromFile(FileName, Lines) then
    Exit;
  Count := 0;
  Empty := True;
  for I := 0 to GetArrayLength(Lines) - 1 do
    if not IsAutoloadLine(Lines[I]) then
    begin
      SetArrayLength(Kept, Count + 1);
      Kept[Count] := Lines[I];
      Count := Count + 1;
      if Trim(Lines[I]) <> '' then
        Empty := False;
    end;
  if Count = GetArrayLength(Lines) then
    Exit;
  if Empty then
    Result := DeleteFile(FileName)
  else
    Result := SaveStringsToUTF8FileWithoutBOM(FileName, Kept, False);
  Log('osquery extension taken out of ' + FileName);
end;

{ Restart the osqueryd services that run (osquery's and fleetd's), so that osqueryd reads its
  autoload file again; a service that is stopped stays stopped. }
procedure RestartRunningOsquery;
var
  ResultCode: Integer;
begin
  Exec(ExpandConstant('{sys}\WindowsPowerShell\v1.0\powershell.exe'),
    '-NoProfile -NonInteractive -Command "foreach ($name in ''osqueryd'', ''Fleet osquery'') { ' +
    '$service = Get-Service -Name $name -ErrorAction SilentlyContinue; ' +
    'if ($service -and $service.Status -eq ''Running'') { Restart-Service -Name $name -Force } }"',
    '', SW_HIDE, ewWaitUntilTerminated, ResultCode);
  Log('restarted the running osqueryd services (exit code ' + IntToStr(ResultCode) + ')');
end;

procedure ApplyOsqueryAutoload;
var
  Target, Previous: String;
  Changed: Boolean;
begin
  Target := OsqueryAutoloadFile;
  Changed := False;
  if RegQueryStringValue(HKLM, AutoloadStateKey, AutoloadStateValue, Previous) and
     (Previous <> '') and (CompareText(Previous, Target) <> 0) then
    Changed := RemoveFromAutoload(Previous) or Changed;
  if Target <> '' then
  begin
    Changed := AddToAutoload(Target) or Changed;
    RegWriteStringValue(HKLM, AutoloadStateKey, AutoloadStateValue, Target);
  end
  else
    RegDeleteValue(HKLM, AutoloadStateKey, AutoloadStateValue);
  if Changed then
    RestartRunningOsquery;
end;

procedure WithdrawOsqueryAutoload;
var
  Previous: String;
begin
  if RegQueryStringValue(HKLM, AutoloadStateKey, AutoloadStateValue, Previous) then
  begin
    if (Previous <> '') and RemoveFromAutoload(Previous) then
      RestartRunningOsquery;
    RegDeleteValue(HKLM, AutoloadStateKey, AutoloadStateValue);
    RegDeleteKeyIfEmpty(HKLM, AutoloadStateKey);
  end;
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  if (CurStep = ssPostInstall) and HasPolicyDir then
    InstallPolicyDir;
  if CurStep = ssPostInstall then
    ApplyOsqueryAutoload;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  { Before the files go: osqueryd then no longer starts the extension. }
  if CurUninstallStep = usUninstall then
    WithdrawOsqueryAutoload;
end;
