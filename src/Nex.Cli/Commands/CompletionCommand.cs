using System.CommandLine;

namespace Nex.Cli.Commands;

/// <summary>
/// <c>nex completion bash|zsh|fish</c>: a script for the shell that asks <c>nex</c> itself for completions
/// through System.CommandLine's <c>[suggest:POSITION]</c> directive, so it never goes stale.
/// </summary>
internal static class CompletionCommand
{
    public const string Bash = """
        # nex completion for bash: source <(nex completion bash)
        _nex_complete() {
            local IFS=$'\n'
            local candidates
            candidates=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)
            COMPREPLY=( $(compgen -W "${candidates}" -- "${COMP_WORDS[COMP_CWORD]}") )
        }
        complete -o default -F _nex_complete nex
        """;

    public const string Zsh = """
        #compdef nex
        # nex completion for zsh: source <(nex completion zsh)
        _nex() {
            local line="${(j: :)words[1,CURRENT]}"
            local -a candidates
            candidates=("${(@f)$("${words[1]}" "[suggest:${#line}]" "$line" 2>/dev/null)}")
            compadd -- $candidates
        }
        compdef _nex nex
        """;

    public const string Fish = """
        # nex completion for fish: nex completion fish | source
        function __nex_complete
            set -l line (commandline -cp)
            set -l exe (commandline -opc)[1]
            $exe "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null
        end
        complete -c nex -f -a '(__nex_complete)'
        """;

    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var completion = new Command("completion", "Print a shell completion script (it asks nex for the candidates, so it stays current)");
        completion.Arguments.Add(shell);
        completion.SetAction(parse =>
        {
            Console.Out.WriteLine(parse.GetValue(shell) switch
            {
                "zsh" => Zsh,
                "fish" => Fish,
                _ => Bash,
            });
            return 0;
        });
        return completion;
    }
}
