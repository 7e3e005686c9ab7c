# bash completion for stethoscope-desktop; written by stethoscope_desktop/cli_docs.py from its
# argument parser (do not edit: python -m stethoscope_desktop.cli_docs FOLDER).
_stethoscope_desktop() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local command='' i word
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            scan|serve|check-policy|convert-instructions|import-fleet|device-key|verify-token|osquery-extension) command=$word; break ;;
        esac
    done
    local options='' positional=''
    case $command in
        '')
            options='-h --help --version --debug --practices --engine --lang'
            positional=''
            case $prev in
                --practices) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
                --engine) COMPREPLY=($(compgen -W 'auto embedded osquery' -- "$cur")); return ;;
                --lang) COMPREPLY=(); return ;;
            esac
            ;;
        scan)
            options='-h --help --practices --engine --lang --json --color --no-color --save --details'
            positional=''
            case $prev in
                --practices) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
                --engine) COMPREPLY=($(compgen -W 'auto embedded osquery' -- "$cur")); return ;;
                --lang) COMPREPLY=(); return ;;
                --color) COMPREPLY=($(compgen -W 'auto always never' -- "$cur")); return ;;
            esac
            ;;
        serve)
            options='-h --help --practices --engine --lang --port --max-age --debug'
            positional=''
            case $prev in
                --practices) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
                --engine) COMPREPLY=($(compgen -W 'auto embedded osquery' -- "$cur")); return ;;
                --lang) COMPREPLY=(); return ;;
                --port) COMPREPLY=(); return ;;
                --max-age) COMPREPLY=(); return ;;
            esac
            ;;
        check-policy)
            options='-h --help --strict'
            positional='file'
            case $prev in
            esac
            ;;
        convert-instructions)
            options='-h --help -o --output'
            positional='file'
            case $prev in
                -o|--output) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
            esac
            ;;
        import-fleet)
            options='-h --help --platform --manual --keep-queries -o --output'
            positional='file'
            case $prev in
                --platform) COMPREPLY=($(compgen -W 'darwin linux windows all' -- "$cur")); return ;;
                --manual) COMPREPLY=($(compgen -W 'keep skip' -- "$cur")); return ;;
                -o|--output) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
            esac
            ;;
        device-key)
            options='-h --help --practices --csr --new'
            positional=''
            case $prev in
                --practices) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
            esac
            ;;
        verify-token)
            options='-h --help --key --nonce --origin'
            positional='value'
            case $prev in
                --key) COMPREPLY=(); return ;;
                --nonce) COMPREPLY=(); return ;;
                --origin) COMPREPLY=(); return ;;
            esac
            ;;
        osquery-extension)
            options='-h --help --socket --timeout --interval --verbose --stale-after'
            positional=''
            case $prev in
                --socket) COMPREPLY=(); return ;;
                --timeout) COMPREPLY=(); return ;;
                --interval) COMPREPLY=(); return ;;
                --stale-after) COMPREPLY=(); return ;;
            esac
            ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    elif [[ -z $command ]]; then
        COMPREPLY=($(compgen -W 'scan serve check-policy convert-instructions import-fleet device-key verify-token osquery-extension' -- "$cur"))
    elif [[ $positional == file ]]; then
        COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null
    fi
}
complete -F _stethoscope_desktop stethoscope-desktop
